"""Lead files: streaming CSV / JSON Lines / Parquet readers and writers, and scoring a whole file.

tabular.py     readers that yield all-text Arrow batches (bad lines reported, never fatal) and writers
score_file.py  a lead file in, a scored file and an errors file out (`aiqleads score`)
"""

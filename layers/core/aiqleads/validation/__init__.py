"""Validation: where a lead (or a whole file of them) is cleaned and checked, with every error naming its field.

grammar.py   the text grammar (numbers, emails, phones, slugs, date-times) both validators compile
flat.py      the flat form of a lead (bulk files, training tables): column vocabulary and the per-record parser
columnar.py  the same rules over whole Arrow batches (bulk files at Arrow speed)
labels.py    outcome labels (converted/lost, 1/0, yes/no, true/false) for training and historical imports
"""

"""The model registry: versions per tenant (and the global default), their artifacts, and the aliases serving
resolves.

records.py   what is stored and shown: a registered version, its lineage and files, an alias with its history
service.py   register, list, show, move an alias (promote, shadow, roll back), announce `model.promoted`
serving.py   which model scores a tenant's leads: its production alias, else the global default, resolved at most
             every ModelAliasTtlSeconds, sessions kept per version in a small LRU
shadow.py    shadow scoring beside production, and its comparison figures
label_window.py  LABEL_WINDOW_DAYS: how long a lead waits for its outcome (training's labels, rescoring's open leads)
"""

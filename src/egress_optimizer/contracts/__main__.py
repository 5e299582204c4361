"""``python -m egress_optimizer.contracts``: regenerate the shipped JSON Schemas of the contracts."""

from egress_optimizer.contracts import write_schemas

for path in write_schemas():
    print(path)

"""The ledger: model, migrations, source policy and the loader that applies years."""

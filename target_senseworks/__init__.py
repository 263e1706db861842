"""target-senseworks: a Singer target that writes an audit ledger."""

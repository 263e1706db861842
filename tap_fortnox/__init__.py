"""tap-fortnox: a Singer tap for Fortnox ledgers and voucher documents."""

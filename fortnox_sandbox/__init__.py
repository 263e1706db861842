"""A faithful local Fortnox API: data generator, OAuth, rate limits and faults."""

"""How much an anomaly must cost before it is an incident (kept apart from the detection code, so the command
line can show the default without loading it)."""

FREE_PATH_HOURS = 2  # anomalous hours a $0 path needs before it is an incident
MIN_IMPACT_SHARE = 0.0002  # 0.02 % of the account's daily egress spend: $0.20 on a $1,000-a-day account

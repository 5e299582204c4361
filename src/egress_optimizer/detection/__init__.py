"""Detection: anomalous egress hours by robust statistics and an Isolation Forest, formed into incidents."""

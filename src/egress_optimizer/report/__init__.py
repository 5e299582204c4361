"""The self-contained HTML report: the dashboard's views over the lake and a page per incident, as one file
with plotly's JavaScript inlined (no CDN, no network)."""

"""Planners: cost-optimal designs for moving data between cloud regions.

Modules are imported on demand (no eager imports here, so one planner never pays for another's
dependencies), for example:

- ``planners.profiles``: the measured inter-region grid (throughput, $/GB, per-VM limits).
- ``planners.replication``: multi-region replication trees (Cloudcast, NSDI'24; CloudMPcast, IEEE TCC;
  direct / MDST / Steiner / SPIDER-style baselines).
"""

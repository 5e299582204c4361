"""AWS data-transfer list prices and the monthly tier accumulation AWS applies to them."""

from egress_optimizer.pricing.catalog import PriceCatalog, load_catalog
from egress_optimizer.pricing.tiers import TierMeter, TierSlice

__all__ = ["PriceCatalog", "TierMeter", "TierSlice", "load_catalog"]

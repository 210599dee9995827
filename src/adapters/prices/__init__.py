"""PriceCatalog adapters: genai-prices' published prices (read in a subprocess) and a static table."""

from adapters.prices.genai_prices import GenaiPricesCatalog, snapshot_path
from adapters.prices.static import StaticPriceCatalog

__all__ = ["GenaiPricesCatalog", "StaticPriceCatalog", "snapshot_path"]

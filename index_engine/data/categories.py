"""The asset categories (a leaf module): what ``universe.exclude_categories`` and the taxonomy know."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("stablecoin", "wrapped", "pegged", "exchange_token", "other")

CATEGORY_DESCRIPTIONS: dict[str, str] = {
    "stablecoin": "Token designed to track a fiat currency (USD, EUR, CNY, ...), collateralised or "
    "algorithmic, including failed ones (e.g. UST/terrausd).",
    "wrapped": "1:1 tokenised claim on another crypto asset on a different chain (WBTC, renBTC, BTCB, WTRX).",
    "pegged": "Token pegged to a commodity or another asset's price (PAXG, XAUt, bitGOLD, bitSILVER, bitBTC).",
    "exchange_token": "Utility/discount token issued by a crypto exchange (BNB, HT, OKB, KCS, LEO, FTT, CRO, ...).",
    "other": "Everything else (native coins, protocol and application tokens); the default.",
}

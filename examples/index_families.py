"""Replay every ready index-family config on one market and print a markdown table of statistics.

    python examples/index_families.py ../shared/data/cmc_daily_2013_2018.parquet \
        --categories ../shared/data/asset_categories.csv --start 2015-01-01

This is the command that produced the table in docs/indexes.md.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from backtest import run_backtest
from index_engine import IndexConfig, MarketData

CONFIGS = ("global100", "cci30", "coindesk20", "bitwise10", "bgci", "mvis_da10")
ROOT = Path(__file__).resolve().parents[1]


def pct(v) -> str:
    return "–" if v is None else f"{v * 100:,.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--categories")
    parser.add_argument("--start")
    parser.add_argument("--end")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        market = MarketData.from_parquet(args.data, categories=args.categories)
    rows = ["| config | CAGR | volatility | Sharpe | max drawdown | turnover / year | cost drag (bp/yr) | orders "
            "| reconstitutions | BTC CAGR | warnings |", "|---" * 11 + "|"]
    for name in CONFIGS:
        cfg = IndexConfig.from_yaml(ROOT / "configs" / f"{name}.yaml")
        cfg = cfg.with_overrides({k: v for k, v in (("backtest.start", args.start), ("backtest.end", args.end)) if v})
        r = run_backtest(cfg, market)
        s, btc = r.stats, r.summary["benchmarks"].get("bitcoin", {})
        kinds = ", ".join(k for k in r.summary["warnings"] if k != "price_jump_100x") or "–"
        rows.append(f"| `{name}` | {pct(s['cagr'])} | {pct(s['volatility'])} | {s['sharpe']:.2f} | "
                    f"{pct(s['max_drawdown'])} ({s['max_drawdown_peak']} → {s['max_drawdown_trough']}) | "
                    f"{pct(s['turnover_annualised'])} | {s['cost_drag_bps_per_year']:.1f} | {s['n_transactions']:,} | "
                    f"{s['n_reconstitutions']} | {pct(btc.get('cagr'))} | {kinds} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""Self-contained HTML reports (figures embedded as base64 PNG, no network needed) plus their JSON."""

from annokit.report.build import ReportData, analyse, build_report, coco_evaluate, write_report

__all__ = ["ReportData", "analyse", "build_report", "coco_evaluate", "write_report"]

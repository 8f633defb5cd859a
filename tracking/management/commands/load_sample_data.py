"""Load fixtures/sample_data.json into an empty hub; `make run` calls it on every start."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tracking.sample_data import SampleDataSkipped, load_sample_data


class Command(BaseCommand):
    help = "Load the sample data into an empty hub (does nothing when projects or bugs exist)."

    def handle(self, *args, **options) -> None:
        try:
            counts = load_sample_data()
        except SampleDataSkipped as skipped:
            self.stdout.write(str(skipped))
            return
        summary = ", ".join(f"{count} {section}" for section, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Loaded sample data: {summary}."))

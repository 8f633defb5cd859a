from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Ingestion pipeline"

    def ready(self) -> None:
        from ingestion.streams import autodiscover
        from ingestion.webhooks import autodiscover_receivers

        autodiscover()
        autodiscover_receivers()
        # Registers the csv_import job handler.
        import ingestion.imports.service  # noqa: F401

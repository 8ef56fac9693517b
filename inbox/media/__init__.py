"""MMS attachments: durable download jobs and the pure image/PDF pipeline."""

"""HTTP: pages, the JSON API, Twilio's webhooks, forms, login and account."""

"""Development only: the demo practice and the Twilio simulator."""

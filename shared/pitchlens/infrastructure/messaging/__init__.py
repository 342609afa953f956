"""Message envelopes, the notification parser and the SQS adapters."""

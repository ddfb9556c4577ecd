"""What happened, and telling people about it.

- service.py, api.py, views.py: activity, deliveries and their admin pages;
- webhooks.py: the endpoints admins register (managing);
- worker.py: the delivery worker: fans the outbox out into deliveries,
  claims them and sends them (mail.py, with the calendar invitations.py
  builds; webhook_sender.py signs and POSTs webhooks); render.py is what both
  say about an event."""

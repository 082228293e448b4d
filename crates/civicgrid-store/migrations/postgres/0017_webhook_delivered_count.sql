-- A delivered notification is done with: its row is deleted and its subscription counts it,
-- so the outbox holds only what is pending or failed and does not grow with every event.
ALTER TABLE webhooks ADD COLUMN delivered BIGINT NOT NULL DEFAULT 0;
UPDATE webhooks SET delivered = (
    SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id AND d.status = 'delivered');
DELETE FROM webhook_deliveries WHERE status = 'delivered';

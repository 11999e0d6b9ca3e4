import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A delivery handed to the queue carries a lease token: only the job holding the current token
 * may attempt it and record the attempt, so a job that outlived its lease (a slow queue, an
 * instance that paused) cannot attempt beside the one that took the delivery over.
 */
export class WebhookDeliveryLease1796171726547 implements MigrationInterface {
  name = "WebhookDeliveryLease1796171726547";

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "webhook_delivery" ADD "lease_token" uuid');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE "webhook_delivery" DROP COLUMN "lease_token"');
  }
}

CREATE TABLE "address_leases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host_id" uuid NOT NULL,
	"pool" text NOT NULL,
	"address_num" bigint NOT NULL,
	"address" text NOT NULL,
	"holder" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "address_leases" ADD CONSTRAINT "address_leases_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "address_leases_host_pool_address_key" ON "address_leases" USING btree ("host_id","pool","address_num");--> statement-breakpoint
CREATE UNIQUE INDEX "address_leases_pool_holder_key" ON "address_leases" USING btree ("pool","holder");
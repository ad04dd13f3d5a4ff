CREATE TABLE "instance_activity" (
	"instance_id" uuid PRIMARY KEY NOT NULL,
	"ide_at" timestamp with time zone,
	"ssh_at" timestamp with time zone,
	"ssh_sessions" integer,
	"streams_at" timestamp with time zone,
	"streams_open" integer,
	"ingress_at" timestamp with time zone,
	"reported_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "idle_stop_minutes" integer;--> statement-breakpoint
ALTER TABLE "instance_activity" ADD CONSTRAINT "instance_activity_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;
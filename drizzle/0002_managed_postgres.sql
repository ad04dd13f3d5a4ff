CREATE TABLE "pg_databases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"pg_user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pg_users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"password_encrypted" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pg_databases" ADD CONSTRAINT "pg_databases_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pg_databases" ADD CONSTRAINT "pg_databases_pg_user_id_pg_users_id_fk" FOREIGN KEY ("pg_user_id") REFERENCES "public"."pg_users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pg_users" ADD CONSTRAINT "pg_users_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "pg_databases_name_key" ON "pg_databases" USING btree ("name");--> statement-breakpoint
CREATE INDEX "pg_databases_user_idx" ON "pg_databases" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "pg_databases_pg_user_idx" ON "pg_databases" USING btree ("pg_user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pg_users_name_key" ON "pg_users" USING btree ("name");--> statement-breakpoint
CREATE INDEX "pg_users_user_idx" ON "pg_users" USING btree ("user_id");
import { Check, Column, Entity, PrimaryColumn, Unique } from "typeorm";
import type { ThirdPartyRole } from "./third-party.types";

/** A party outside the service that may send or receive personal data (reference data). */
@Entity("third_party")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("third_party_name_check", "length(name) BETWEEN 1 AND 200")
@Check("third_party_role_check", "role IN ('AGENT', 'INDEPENDENT')")
@Check("third_party_country_check", "country ~ '^[A-Z]{2}$'")
@Check("third_party_description_check", "length(description) <= 1000")
@Check("third_party_check", "role = 'AGENT' OR NOT listed_as_subprocessor")
@Unique("third_party_name_key", ["name"])
export class ThirdPartyEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("text")
  name!: string;

  @Column("text")
  role!: ThirdPartyRole;

  @Column("boolean", { name: "listed_as_subprocessor", default: false })
  listedAsSubprocessor!: boolean;

  @Column("boolean", { name: "data_sharing_prohibited", default: false })
  dataSharingProhibited!: boolean;

  @Column("text", { nullable: true })
  country!: string | null;

  @Column("text", { nullable: true })
  description!: string | null;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;
}

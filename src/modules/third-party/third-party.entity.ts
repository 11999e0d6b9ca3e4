import { Column, Entity, PrimaryColumn } from "typeorm";
import type { ThirdPartyRole } from "./third-party.types";

/** A party outside the service that may send or receive personal data (reference data). */
@Entity("third_party")
export class ThirdPartyEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("text")
  name!: string;

  @Column("text")
  role!: ThirdPartyRole;

  @Column("boolean", { name: "listed_as_subprocessor" })
  listedAsSubprocessor!: boolean;

  @Column("boolean", { name: "data_sharing_prohibited" })
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

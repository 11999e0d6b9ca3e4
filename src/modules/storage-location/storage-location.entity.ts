import { Field, ID, ObjectType } from "type-graphql";
import { Check, Column, Entity, PrimaryColumn } from "typeorm";

/** Reference data without personal data: one class serves as entity and GraphQL type. */
@Entity("storage_location")
@Check("storage_location_code_check", "code ~ '^[A-Z][A-Z0-9_]{1,15}$'")
@Check("storage_location_name_check", "length(name) BETWEEN 1 AND 100")
@Check("storage_location_data_center_countries_check", "cardinality(data_center_countries) > 0")
@ObjectType("StorageLocation", { simpleResolvers: true, description: "A geography where a tenant's personal data is stored, and nowhere else." })
export class StorageLocation {
  @PrimaryColumn("text")
  @Field(() => ID, { description: "Short code of the geography, e.g. EU, US, UK, APAC." })
  code!: string;

  @Column("text")
  @Field({ description: "Human-readable name of the geography." })
  name!: string;

  @Column("text", { name: "data_center_countries", array: true })
  @Field(() => [String], { description: "ISO 3166-1 alpha-2 codes of the countries whose data centres hold the data." })
  dataCenterCountries!: string[];

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;
}

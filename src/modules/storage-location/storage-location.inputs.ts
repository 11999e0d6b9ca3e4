import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsString, Length, Matches } from "class-validator";
import { Field, ID, InputType } from "type-graphql";

@InputType({ description: "A new storage location (geography)." })
export class CreateStorageLocationInput {
  @Field(() => ID, { description: "Short upper-case code, e.g. EU or CH: 2..16 of A-Z, 0-9 and _, starting with a letter." })
  @Matches(/^[A-Z][A-Z0-9_]{1,15}$/, { message: "code must be 2..16 characters of A-Z, 0-9 and _, starting with a letter" })
  code!: string;

  @Field({ description: "Human-readable name, 1..100 characters." })
  @IsString()
  @Length(1, 100)
  name!: string;

  @Field(() => [String], { description: "ISO 3166-1 alpha-2 country codes of its data centres; at least one." })
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ArrayUnique()
  @Matches(/^[A-Z]{2}$/, { each: true, message: "each data centre country must be an ISO 3166-1 alpha-2 code, e.g. NL" })
  dataCenterCountries!: string[];
}

import { registerEnumType } from "type-graphql";

export enum DataCategory {
  IDENTITY = "IDENTITY",
  CONTACT = "CONTACT",
  DEVICE = "DEVICE",
  APP_INVENTORY = "APP_INVENTORY",
  LOCATION = "LOCATION",
  NETWORK = "NETWORK",
  DIAGNOSTIC = "DIAGNOSTIC",
}

export enum RecordStatus {
  ACTIVE = "ACTIVE",
  PENDING_DELETION = "PENDING_DELETION",
}

export enum DeletionReason {
  ACTIVE_DELETION = "ACTIVE_DELETION",
  PASSIVE_DELETION = "PASSIVE_DELETION",
}

registerEnumType(DataCategory, {
  name: "DataCategory",
  description: "What kind of personal data a record holds; agreements cover categories.",
  valuesConfig: {
    IDENTITY: { description: "Who the person is: names, user principal names, directory ids." },
    CONTACT: { description: "How to reach the person: e-mail addresses, phone numbers." },
    DEVICE: { description: "Devices the person uses: serial numbers, models, hardware ids." },
    APP_INVENTORY: { description: "Apps installed on the person's devices." },
    LOCATION: { description: "Where the person's devices are or were." },
    NETWORK: { description: "Network identifiers: IP and MAC addresses, Wi-Fi names." },
    DIAGNOSTIC: { description: "Logs and diagnostics collected from the person's devices." },
  },
});

registerEnumType(RecordStatus, {
  name: "RecordStatus",
  description: "Whether a record can be used.",
  valuesConfig: {
    ACTIVE: { description: "In use: readable for its purposes, correctable, shareable." },
    PENDING_DELETION: { description: "Deleted: never read, corrected or shared again; purged at purgeDueAt." },
  },
});

registerEnumType(DeletionReason, {
  name: "DeletionReason",
  description: "Why a record is pending deletion.",
  valuesConfig: {
    ACTIVE_DELETION: { description: "A user or administrator deleted the data, or an administrator deleted the data subject." },
    PASSIVE_DELETION: { description: "The tenant's subscription ended." },
  },
});

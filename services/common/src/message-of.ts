import { create, isMessage, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";

/** A message as it is, or one made from its fields: callers and handlers may pass either. */
export function messageOf<T extends DescMessage>(schema: T, value: unknown): MessageShape<T> {
  return isMessage(value, schema) ? value : create(schema, value as MessageInitShape<T>);
}

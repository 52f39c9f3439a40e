// Read filters of PullEvents and Subscribe: checked at the edge (field named in the error), then matched.
import { isUuid, utf8ByteLength } from "../crypto/bytes.js";
import { invalidField, showValue } from "./errors.js";
import type { StoredEvent } from "./event.js";
import { READ_LIMITS, STRING_LIMITS } from "./limits.js";

/** A checked filter. Undefined or empty conditions match everything; UUIDs are lowercase. */
export interface EventFilter {
  readonly entityType: string | undefined;
  readonly entityId: string | undefined;
  readonly eventTypes: readonly string[];
  readonly sourceAgentIds: readonly string[];
}

export interface EventFilterInput {
  readonly entityType: string;
  readonly entityId: string;
  readonly eventTypes: readonly string[];
  readonly sourceAgentIds: readonly string[];
}

export const MATCH_ALL: EventFilter = {
  entityType: undefined,
  entityId: undefined,
  eventTypes: [],
  sourceAgentIds: [],
};

function checkText(field: string, value: string, max: number): string {
  const n = utf8ByteLength(value);
  if (n < 1 || n > max) throw invalidField(field, `1..${max} UTF-8 bytes`, `${n}`);
  return value;
}

function checkList(field: string, values: readonly string[]): void {
  if (values.length > READ_LIMITS.maxFilterValues) {
    throw invalidField(field, `at most ${READ_LIMITS.maxFilterValues} values`, `${values.length}`);
  }
}

/** Checks a filter as the client sent it (empty strings and lists mean "any"); `prefix` names its field. */
export function checkEventFilter(input: EventFilterInput | undefined, prefix = "filter"): EventFilter {
  if (input === undefined) return MATCH_ALL;
  const entityType =
    input.entityType === ""
      ? undefined
      : checkText(`${prefix}.entity_type`, input.entityType, STRING_LIMITS.entity_type);
  const entityId =
    input.entityId === ""
      ? undefined
      : checkText(`${prefix}.entity_id`, input.entityId, STRING_LIMITS.entity_id);
  if (entityId !== undefined && entityType === undefined) {
    throw invalidField(`${prefix}.entity_type`, "an entity type when entity_id is set", "none");
  }
  checkList(`${prefix}.event_types`, input.eventTypes);
  const eventTypes = input.eventTypes.map((t, i) =>
    checkText(`${prefix}.event_types[${i}]`, t, STRING_LIMITS.event_type),
  );
  checkList(`${prefix}.source_agent_ids`, input.sourceAgentIds);
  const sourceAgentIds = input.sourceAgentIds.map((id, i) => {
    if (!isUuid(id)) throw invalidField(`${prefix}.source_agent_ids[${i}]`, "a UUID", showValue(id));
    return id.toLowerCase();
  });
  return { entityType, entityId, eventTypes, sourceAgentIds };
}

export function isMatchAll(f: EventFilter): boolean {
  return (
    f.entityType === undefined &&
    f.entityId === undefined &&
    f.eventTypes.length === 0 &&
    f.sourceAgentIds.length === 0
  );
}

/** True when an index finds the filter's events directly (entity type and id), so no scan bound is needed. */
export function isIndexedFilter(f: EventFilter): boolean {
  return f.entityType !== undefined && f.entityId !== undefined;
}

export function matchesFilter(e: StoredEvent, f: EventFilter): boolean {
  if (f.entityType !== undefined && e.entityType !== f.entityType) return false;
  if (f.entityId !== undefined && e.entityId !== f.entityId) return false;
  if (f.eventTypes.length > 0 && !f.eventTypes.includes(e.eventType)) return false;
  if (f.sourceAgentIds.length > 0 && !f.sourceAgentIds.includes(e.sourceAgentId)) return false;
  return true;
}

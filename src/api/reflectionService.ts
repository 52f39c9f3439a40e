// gRPC server reflection, grpc.reflection.v1 and its predecessor v1alpha (the same messages under another
// package; https://github.com/grpc/grpc/blob/master/doc/server-reflection.md), served from the descriptors
// protobuf-es embeds in gen/, so `buf curl` and `grpcurl` need no --schema.
import {
  create,
  createRegistry,
  type DescFile,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Answer = NonNullable<MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"]>;

// gRPC status codes in ErrorResponse.error_code.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/** Every file the services are declared in, and their imports, transitively. */
function filesOf(services: readonly DescService[]): DescFile[] {
  const seen = new Set<DescFile>();
  const visit = (f: DescFile): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const d of f.dependencies) visit(d);
  };
  for (const s of services) visit(s.file);
  return [...seen];
}

/** The answer to one reflection request about the given services (pure; exported for tests). */
export function createReflector(
  services: readonly DescService[],
): (request: v1.ServerReflectionRequest) => Answer {
  const files = filesOf(services);
  const registry = createRegistry(...files);
  const byName = new Map(files.map((f) => [f.proto.name, f]));
  const encoded = new Map<DescFile, Uint8Array>();
  const bytesOf = (f: DescFile): Uint8Array => {
    let b = encoded.get(f);
    if (b === undefined) {
      b = toBinary(FileDescriptorProtoSchema, f.proto);
      encoded.set(f, b);
    }
    return b;
  };
  // The file and every file it imports, the file itself first, as reflection clients expect.
  const withDependencies = (file: DescFile): Answer => {
    const out: Uint8Array[] = [];
    const seen = new Set<DescFile>();
    const visit = (f: DescFile): void => {
      if (seen.has(f)) return;
      seen.add(f);
      out.push(bytesOf(f));
      for (const d of f.dependencies) visit(d);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  };
  const notFound = (what: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
  });
  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const desc = registry.get(symbol);
    if (desc !== undefined) return desc.file;
    // "package.Service.Method"
    const dot = symbol.lastIndexOf(".");
    const service = dot > 0 ? registry.getService(symbol.slice(0, dot)) : undefined;
    return service?.methods.some((m) => m.name === symbol.slice(dot + 1)) ? service.file : undefined;
  };
  const names = services.map((s) => ({ name: s.typeName }));

  return (request) => {
    const r = request.messageRequest;
    switch (r.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: names } };
      case "fileByFilename": {
        const f = byName.get(r.value);
        return f === undefined ? notFound(`file "${r.value}"`) : withDependencies(f);
      }
      case "fileContainingSymbol": {
        const f = fileOfSymbol(r.value);
        return f === undefined ? notFound(`symbol "${r.value}"`) : withDependencies(f);
      }
      case "fileContainingExtension": {
        const message = registry.getMessage(r.value.containingType);
        const ext =
          message === undefined ? undefined : registry.getExtensionFor(message, r.value.extensionNumber);
        return ext === undefined
          ? notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`)
          : withDependencies(ext.file);
      }
      case "allExtensionNumbersOfType": {
        if (registry.getMessage(r.value) === undefined) return notFound(`type "${r.value}"`);
        const numbers: number[] = [];
        for (const d of registry) {
          if (d.kind === "extension" && d.extendee.typeName === r.value) numbers.push(d.number);
        }
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: r.value, extensionNumber: numbers.sort((a, b) => a - b) },
        };
      }
      default:
        return {
          case: "errorResponse",
          value: {
            errorCode: INVALID_ARGUMENT,
            errorMessage: "message_request: expected one of its cases, got none",
          },
        };
    }
  };
}

export interface ReflectionServices {
  readonly v1: ServiceImpl<typeof v1.ServerReflection>;
  readonly v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
}

/** Both reflection services over the given services (list them all, the reflection services included). */
export function createReflectionServices(services: readonly DescService[]): ReflectionServices {
  const reflect = createReflector(services);
  const answer = (request: v1.ServerReflectionRequest) => ({
    validHost: request.host,
    originalRequest: request,
    messageResponse: reflect(request),
  });
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) yield answer(request);
      },
    },
    // v1alpha's messages have v1's fields and numbers: converted through the wire format.
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const alpha of requests) {
          const request = fromBinary(
            v1.ServerReflectionRequestSchema,
            toBinary(v1alpha.ServerReflectionRequestSchema, alpha),
          );
          yield fromBinary(
            v1alpha.ServerReflectionResponseSchema,
            toBinary(
              v1.ServerReflectionResponseSchema,
              create(v1.ServerReflectionResponseSchema, answer(request)),
            ),
          );
        }
      },
    },
  };
}

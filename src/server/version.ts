/** The protocol-version gate applied before parameter decoding. */
import { VERSION_RE, type ServiceDefinition } from "../service/definition.js";
import { ErrorKind, ServiceError } from "../errors.js";

/** Returns an error when the request's protocol version is incompatible with the service's. */
export function checkProtocolVersion(def: ServiceDefinition, requested: string | undefined): Error | null {
  const ours = def.protocolVersion;
  if (ours === undefined) return null;
  const mismatch = (detail: string) => {
    const err = new ServiceError("ProtocolVersionError", `${def.name}: ${detail}`, ErrorKind.protocolVersionMismatch);
    // The structured form names the gated protocol (a server may host several).
    return Object.assign(err, {
      errorDetails: [
        {
          "@type": "vgi_rpc.PreconditionFailure",
          violations: [
            {
              type: "protocol_version",
              subject: def.name,
              description: `client declares ${requested || "<none>"}, server requires ${ours}; major and minor must match`,
            },
          ],
        },
      ],
    });
  };
  if (requested === undefined) {
    return mismatch(`request carries no protocol version; server speaks ${ours}. Upgrade the client to send vgi_rpc.protocol_version.`);
  }
  const r = VERSION_RE.exec(requested);
  if (!r) return mismatch(`malformed protocol version '${requested}' (expected canonical M.m.p); server speaks ${ours}`);
  const o = VERSION_RE.exec(ours)!;
  if (r[1] !== o[1] || r[2] !== o[2]) {
    const older = Number(r[1]) < Number(o[1]) || (r[1] === o[1] && Number(r[2]) < Number(o[2]));
    return mismatch(`client protocol version ${requested} is incompatible with server version ${ours}; upgrade the ${older ? "client" : "server"}`);
  }
  return null;
}

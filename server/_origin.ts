// The origin check of the opening handshake: which pages may open a
// connection (a browser sends the page's origin; other clients send none).

import type { OriginPolicy } from "./_options.ts";

/**
 * Whether a request's origin passes a policy. `host` is the request's host,
 * for `"same-origin"`; `request` makes the Request only for a policy that is
 * a function, so that the common policies never build one.
 */
export function originAllowed(
  policy: OriginPolicy,
  origin: string | null,
  host: string,
  request: () => Request,
): boolean {
  if (policy === "any") return true;
  if (typeof policy === "function") return policy(origin ?? "", request());
  if (origin === null) return policy === "same-origin";
  if (policy === "same-origin") {
    try {
      const from = new URL(origin);
      return from.host.toLowerCase() === host;
    } catch {
      return false;
    }
  }
  return policy.includes(origin);
}

/**
 * Whether an origin passes a policy.
 *
 * @param policy The policy.
 * @param request The upgrade request.
 * @returns Whether the connection may proceed.
 *
 * @example Same-origin by default
 * ```ts
 * import { isOriginAllowed } from "@seed/websocket/server";
 *
 * const request = new Request("http://example.com/ws", {
 *   headers: { Host: "example.com", Origin: "http://evil.example" },
 * });
 * console.log(isOriginAllowed("same-origin", request)); // false
 * ```
 */
export function isOriginAllowed(
  policy: OriginPolicy,
  request: Request,
): boolean {
  const origin = request.headers.get("origin");
  if (policy === "any" || typeof policy === "function" || origin === null) {
    return originAllowed(policy, origin, "", () => request);
  }
  return originAllowed(
    policy,
    origin,
    new URL(request.url).host,
    () => request,
  );
}

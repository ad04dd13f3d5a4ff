import type { SecretBox } from "../../shared/crypto/secret-box";
import { configured } from "../configured";

/** Secrets are bound to their endpoint: a sealed secret copied onto another row does not open. */
const context = (endpointId: string) => `webhook:${endpointId}:secret`;

export const boxOf = (box: SecretBox | undefined) => configured(box, "webhooks need the Node control plane (KWS_SECRET_KEY)");

export const sealSecret = (box: SecretBox | undefined, endpointId: string, secret: string) => boxOf(box).seal(secret, context(endpointId));

export const openSecret = (box: SecretBox | undefined, endpointId: string, sealed: string) => boxOf(box).open(sealed, context(endpointId));

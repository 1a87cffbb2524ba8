/** Structural equality of Arrow types, as vgi-rpc compares schemas. */
import type { DataType } from "apache-arrow";

/** Structural Arrow type equality (ignores dictionary ids; checks child names and nullability). */
export function sameType(a: DataType, b: DataType): boolean {
  if (a.typeId !== b.typeId) return false;
  if (String(a) !== String(b)) return false;
  const ac = a.children ?? [];
  const bc = b.children ?? [];
  if (ac.length !== bc.length) return false;
  for (let i = 0; i < ac.length; i++) {
    if (ac[i]!.name !== bc[i]!.name || ac[i]!.nullable !== bc[i]!.nullable || !sameType(ac[i]!.type, bc[i]!.type)) return false;
  }
  const ad = (a as { dictionary?: DataType }).dictionary;
  const bd = (b as { dictionary?: DataType }).dictionary;
  if (ad && bd && !sameType(ad, bd)) return false;
  return true;
}

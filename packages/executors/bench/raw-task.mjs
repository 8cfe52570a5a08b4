// The raw tinypool / piscina baseline: a no-op task function.
export default function noop() {
  return null;
}

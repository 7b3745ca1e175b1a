/**
 * A model_name with "*" in it ("openai/*", "*"): it answers every requested
 * name it matches, the "*" standing for any text.
 */
export class WildcardName {
  private readonly prefix: string;
  private readonly suffix: string;

  constructor(readonly pattern: string) {
    const star = pattern.indexOf("*");
    this.prefix = pattern.slice(0, star);
    this.suffix = pattern.slice(pattern.lastIndexOf("*") + 1);
  }

  static is(name: string): boolean {
    return name.includes("*");
  }

  /** One "*" only: then `fill` is the name `match` reads back. */
  get single(): boolean {
    return this.prefix.length + this.suffix.length === this.pattern.length - 1;
  }

  /** The name the pattern stands for with its "*" as `text`. */
  fill(text: string): string {
    return this.prefix + text + this.suffix;
  }

  /** The text the "*" stands for in `name`, or undefined when it does not match. */
  match(name: string): string | undefined {
    if (name.length < this.prefix.length + this.suffix.length || !name.startsWith(this.prefix) || !name.endsWith(this.suffix)) return undefined;
    const matched = name.slice(this.prefix.length, name.length - this.suffix.length);
    return matched === "" ? undefined : matched;
  }

  /** How much of the pattern is fixed text: the more, the more specific, and the earlier it is tried. */
  get specificity(): number {
    return this.prefix.length + this.suffix.length;
  }
}

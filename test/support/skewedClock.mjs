// Preload (node --import) that shifts this process's clock by VES_TEST_CLOCK_SKEW_MS: Date.now() and new Date()
// read that much ahead (or behind, if negative). For tests of instances whose clocks disagree.
const skew = Number(process.env.VES_TEST_CLOCK_SKEW_MS ?? "0");
if (skew !== 0) {
  const RealDate = globalThis.Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skew);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}

// Compares two CloudFormation templates with the engine of `cdk diff`
// (npm @aws-cdk/cloudformation-diff, pinned in package.json) and prints, as
// JSON, each changed resource's logical id, type and impact (WILL_UPDATE,
// WILL_REPLACE, ...). Usage: node cfndiff.js before.json after.json
const fs = require('fs');
const { fullDiff } = require('@aws-cdk/cloudformation-diff');
const [before, after] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const out = [];
fullDiff(before, after).resources.forEachDifference((id, change) => {
  out.push({ id, type: change.resourceType, impact: change.changeImpact });
});
process.stdout.write(JSON.stringify(out));

import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { DataTable, type Column } from "./DataTable";

interface Row {
  name: string;
  n: number;
}

const COLUMNS: Column<Row>[] = [
  { header: "Name", cell: (r) => r.name, rowHeader: true },
  { header: "N", cell: (r) => r.n, className: "num", cellClassName: (r) => (r.n > 1 ? "big" : "small") },
  { header: "", key: "bar", cell: () => "~", decorative: true },
  { header: "Actions", cell: (r, i) => `#${i} ${r.name}`, srOnlyHeader: true },
];

const render = (props: Partial<Parameters<typeof DataTable<Row>>[0]> = {}) =>
  renderToStaticMarkup(<DataTable columns={COLUMNS} rows={[{ name: "a", n: 1 }]} rowKey={(r) => r.name} {...props} />);

describe("DataTable", () => {
  it("keeps headers, row headers, classes and hidden parts as table markup", () => {
    const html = render({ caption: "Things", className: "things" });
    expect(html).toBe(
      '<div class="table-wrap"><table class="things"><caption class="sr-only">Things</caption>' +
        '<thead><tr><th scope="col">Name</th><th scope="col" class="num">N</th>' +
        '<th scope="col" aria-hidden="true"></th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>' +
        '<tbody><tr><th scope="row">a</th><td class="num small">1</td><td aria-hidden="true">~</td><td>#0 a</td></tr></tbody>' +
        "</table></div>",
    );
  });

  it("puts the foot rows in a tfoot, in the same columns", () => {
    const html = render({ foot: [{ name: "Total", n: 5 }] });
    expect(html).toContain('<tfoot><tr><th scope="row">Total</th><td class="num big">5</td>');
    expect(html).not.toContain("<caption");
  });

  it("says so when there are no rows, and only then", () => {
    expect(render({ rows: [], empty: "Nothing." })).toContain("</table><p>Nothing.</p></div>");
    expect(render({ empty: "Nothing." })).not.toContain("Nothing.");
    expect(render({ rows: [] })).not.toContain("<p>");
  });
});

// A table whose columns are data: each a header and how to render a row's cell. The markup is
// what screen readers, the CSS and the browser tests rely on: a scrolling `table-wrap` frame, an
// optional visually hidden caption, `th scope="col"` headers, `th scope="row"` for a column that
// names its row, an optional tfoot (a total) in the same columns, and a message for no rows.
import type { ReactNode } from "react";

export interface Column<T> {
  header: string;
  cell: (row: T, index: number) => ReactNode;
  /** React key of the column; the header unless given. */
  key?: string;
  /** On the header and every cell: "num" right-aligns figures. */
  className?: string;
  /** On the cells only, fixed or per row. */
  cellClassName?: string | ((row: T) => string);
  /** The cells are `th scope="row"`: this column names the row. */
  rowHeader?: boolean;
  /** The header is for screen readers only (a column of buttons). */
  srOnlyHeader?: boolean;
  /** Header and cells are hidden from screen readers (a drawing of a figure beside it). */
  decorative?: boolean;
}

interface Props<T> {
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string | number;
  /** The table's name for screen readers (visually hidden). */
  caption?: string;
  className?: string;
  /** Rows of a tfoot, in the same columns. */
  foot?: readonly T[];
  /** Shown below the table when there are no rows. */
  empty?: ReactNode;
}

function classes(...names: (string | undefined)[]): string | undefined {
  return names.filter(Boolean).join(" ") || undefined;
}

export function DataTable<T>({ columns, rows, rowKey, caption, className, foot, empty }: Props<T>) {
  const row = (r: T, i: number) => (
    <tr key={rowKey(r)}>
      {columns.map((c) => {
        const own = typeof c.cellClassName === "function" ? c.cellClassName(r) : c.cellClassName;
        const props = {
          "aria-hidden": c.decorative || undefined,
          className: classes(c.className, own),
          children: c.cell(r, i),
        };
        return c.rowHeader ? (
          <th key={c.key ?? c.header} scope="row" {...props} />
        ) : (
          <td key={c.key ?? c.header} {...props} />
        );
      })}
    </tr>
  );
  return (
    <div className="table-wrap">
      <table className={className}>
        {caption && <caption className="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c.key ?? c.header} aria-hidden={c.decorative || undefined} className={c.className}>
                {c.srOnlyHeader ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{rows.map(row)}</tbody>
        {foot && <tfoot>{foot.map(row)}</tfoot>}
      </table>
      {rows.length === 0 && empty && <p>{empty}</p>}
    </div>
  );
}

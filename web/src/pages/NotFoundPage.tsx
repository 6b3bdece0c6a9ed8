import { Link } from "../components/Link";

export function NotFoundPage() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page here. Go to <Link href="/availability">Availability</Link>.
      </p>
    </section>
  );
}

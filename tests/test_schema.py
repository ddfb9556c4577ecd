"""sql/schema.sql is what the migrations make (booking/schema.py)."""

from booking import schema


def test_schema_sql_is_what_the_migrations_make(pg_cluster, template_url):
    made = schema.dump(pg_cluster, template_url)
    assert made == schema.SCHEMA_FILE.read_text(), (
        "sql/schema.sql and the migrations disagree: run `.venv/bin/python -m booking.schema`")


def test_normalising_drops_what_differs_from_run_to_run():
    dumped = ("--\n-- PostgreSQL database dump\n--\n\\restrict abc123\nSET x = 1;\n"
              "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
              "CREATE TABLE public.t (\n    id integer\n);   \n\\unrestrict abc123\n")
    assert schema.normalise(dumped) == schema.HEADER + "\nCREATE TABLE public.t (\n    id integer\n);\n"

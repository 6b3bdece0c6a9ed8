"""PostgreSQL: the single source of truth. Only this package imports SQLAlchemy and psycopg."""

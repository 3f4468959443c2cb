"""dmarc flag: a customer's mail whose Authentication-Results said dmarc=fail

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the server default fills the rows already there (SQLite and PostgreSQL alike)
    op.add_column('ticket_message',
                  sa.Column('dmarc_failed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('ticket_message') as batch:  # SQLite drops a column by copying the table
        batch.drop_column('dmarc_failed')

"""survey.scanned_at: a mail scanner opened every rating link of the survey mail

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scanned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_column('scanned_at')

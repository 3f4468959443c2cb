"""surveys and stats charts: ticket.closed_at, survey, chart_image

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chart_image',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('chart_image', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chart_image_created_at'), ['created_at'], unique=False)

    op.create_table('survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('customer_email', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('customer_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('email_message_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('rating', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('rated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('commented_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('nps_offered', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('nps', sa.Integer(), nullable=True),
    sa.Column('nps_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('referral', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('referral_other', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_customer_email'), ['customer_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_nps_at'), ['nps_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_rated_at'), ['rated_at'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_closed_at'), ['closed_at'], unique=False)
    # tickets closed before this revision: their last change is the best guess of when (no survey is
    # sent for them: surveys look back only PITCHIN_SURVEY_DELAY_HOURS and a day)
    op.execute("UPDATE ticket SET closed_at = updated_at WHERE status = 'closed'")



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_closed_at'))
        batch_op.drop_column('closed_at')

    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_rated_at'))
        batch_op.drop_index(batch_op.f('ix_survey_nps_at'))
        batch_op.drop_index(batch_op.f('ix_survey_customer_email'))
        batch_op.drop_index(batch_op.f('ix_survey_created_at'))

    op.drop_table('survey')
    with op.batch_alter_table('chart_image', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chart_image_created_at'))

    op.drop_table('chart_image')

# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_host).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/hosts/<name>/) with a bearer token."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(
    address: ['address', :string],
    host_alias: ['alias', :string],
    team: ['team', :ref],
    templates: ['templates', :list],
    hostgroups: ['hostgroups', :set],
    parents: ['parents', :set],
    check_command: ['check_command', :ref],
    check_command_args: ['check_command_args', :list],
    check_interval: ['check_interval', :int],
    retry_interval: ['retry_interval', :int],
    max_check_attempts: ['max_check_attempts', :int],
    notification_options: ['notification_options', :string],
    notifications_enabled: ['notifications_enabled', :bool],
    contacts: ['contacts', :set],
    contact_groups: ['contact_groups', :set],
    custom_variables: ['custom_variables', :vars],
    notes: ['notes', :string],
    # Read from expires_at; written as lease_seconds.
    lease_seconds: ['lease_seconds', :lease],
  )

  def lease_seconds
    exists? ? lease_remaining(current['expires_at']) : :absent
  end

  def api_path
    "registry/hosts/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end

  private

  # adopt is write-only and only matters to a new name: a parameter, sent on create alone.
  def create_body
    body = super
    body['adopt'] = true if resource[:adopt] == :true
    body
  end
end

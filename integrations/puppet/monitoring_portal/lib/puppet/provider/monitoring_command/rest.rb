# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_command).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/commands/<name>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(
    command_alias: ['alias', :string],
    command_line: ['command_line', :string],
    channel: ['channel', :string],
    free_form_args: ['free_form_args', :ints],
  )

  def api_path
    "registry/commands/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end
end
